"""Models of the layer registry and the typed thematic datasets."""

from .registry import Classification, GenericFeature, GeometryType, Layer, LayerKind, Theme, UpdateFrequency  # noqa: F401
from .thematic import (  # noqa: F401
    BasicFarmland,
    Building,
    HazardPoint,
    HazardZone,
    HousingProject,
    LandParcel,
    MiningRight,
    Road,
    Shelter,
    WaterBody,
    ZoningPlot,
)
from .versions import FeatureHistory, Job, JobState, LayerVersion, VersionKind  # noqa: F401
