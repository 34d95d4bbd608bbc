"""The style JSON: normalised when valid, refused with the offending key named when not."""

import pytest

from layers.style import StyleError, normalise_style


def test_full_style_is_normalised():
    style = normalise_style({
        "fill": "#ABC", "stroke": "#1f78b4", "stroke_width": 0.8, "opacity": 70.4, "symbol": "circle", "size": 8,
        "classify_by": "landuse_code",
        "classes": [{"value": 701, "label": "城镇住宅用地", "fill": "#FFD37F"}, {"value": "0501", "stroke": "#000"}],
        "label": {"attribute": "name", "size": 9, "color": "#333333", "min_scale": 0, "max_scale": 20000},
    })
    assert style["fill"] == "#aabbcc" and style["opacity"] == 70
    assert style["classes"][0] == {"value": "701", "label": "城镇住宅用地", "fill": "#ffd37f"}
    assert style["classes"][1] == {"value": "0501", "label": "0501", "stroke": "#000000"}
    assert style["label"]["attribute"] == "name"


def test_empty_style_is_fine():
    assert normalise_style(None) == {} and normalise_style({}) == {}


def test_raster_style_with_ranges():
    style = normalise_style({"colormap": "slope", "min": 0, "max": 45,
                             "classes": [{"value": "0-15", "label": "<15°", "fill": "#ffffcc"}]})
    assert style["colormap"] == "slope" and style["classes"][0]["value"] == "0-15"


@pytest.mark.parametrize(
    "style,key",
    [
        ({"fill": "red"}, "fill"),
        ({"opacity": 150}, "opacity"),
        ({"stroke_width": -1}, "stroke_width"),
        ({"symbol": "hexagon"}, "symbol"),
        ({"size": 0}, "size"),
        ({"colour": "#fff"}, "colour"),
        ({"classes": [{"value": "a"}]}, "classify_by"),
        ({"classify_by": "k", "classes": [{"label": "x"}]}, "classes[0].value"),
        ({"classify_by": "k", "classes": [{"value": "a"}, {"value": "a"}]}, "classes[1].value"),
        ({"classify_by": "k", "classes": [{"value": "a", "fill": "#12345"}]}, "classes[0].fill"),
        ({"classify_by": "bad name"}, "classify_by"),
        ({"label": {"size": 9}}, "label.attribute"),
        ({"label": {"attribute": "n", "min_scale": 5000, "max_scale": 100}}, "label.min_scale"),
        ({"min": 10, "max": 1}, "min"),
        ([1, 2], "style"),
    ],
)
def test_invalid_style_names_the_key(style, key):
    with pytest.raises(StyleError) as err:
        normalise_style(style)
    assert err.value.key == key and str(err.value).startswith(key)
