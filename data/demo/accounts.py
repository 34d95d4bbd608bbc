"""Demo step: departments of Liupanshui and the demo accounts (password from CITYGIS_DEMO_PASSWORD or generated)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings

from city_gis.accounts.models import Department, Role, User

# code, name zh, name en, disposes cases
DEPARTMENTS = [
    ("urban", "六盘水市数字化城市管理监督指挥中心", "Digital Urban Management Center", False),
    ("survey", "六盘水市测绘地理信息中心", "Surveying and Geoinformation Center", False),
    ("land", "六盘水市自然资源局（国土）", "Natural Resources Bureau (Land)", True),
    ("planning", "六盘水市城乡规划局", "Urban and Rural Planning Bureau", True),
    ("housing", "六盘水市住房和城乡建设局（住房保障）", "Housing and Urban-Rural Development Bureau", True),
    ("geohazard", "六盘水市地质灾害防治中心", "Geological Hazard Prevention Center", True),
    ("sanitation", "钟山区环境卫生管理处", "Sanitation Department", True),
    ("municipal", "钟山区市政设施管理处", "Municipal Facilities Department", True),
    ("landscaping", "钟山区园林绿化管理处", "Landscaping Department", True),
    ("enforcement", "钟山区城市管理综合执法大队", "Urban Management Enforcement Brigade", True),
    ("traffic", "六盘水市公安局交通警察支队", "Traffic Police", True),
    ("water", "六盘水市水务局", "Water Bureau", True),
    ("power", "六盘水供电局", "Power Supply Bureau", True),
    ("gas", "六盘水市燃气公司", "Gas Company", True),
    ("market", "钟山区市场监督管理局", "Market Regulation Bureau", True),
]
INSPECTORS = 12

# username, display name, roles, department
STAFF = [
    ("admin", "系统管理员", [Role.ADMIN], "urban"),
    ("operator", "受理员 王芳", [Role.OPERATOR], "urban"),
    ("leader", "值班长 李强", [Role.LEADER], "urban"),
    ("dispatcher", "派遣员 张伟", [Role.DISPATCHER], "urban"),
    ("planner", "规划分析 陈静", [Role.PLANNER], "planning"),
    ("leader_view", "市领导（只读）", [Role.LEADER_VIEW], "urban"),
]
SURNAMES = "刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢"
GIVEN = "明华建国志强军平海东晓丽敏静磊洋勇艳杰娟涛超"


def demo_password() -> str:
    """The demo accounts' password: CITYGIS_DEMO_PASSWORD, else generated once into var/demo-credentials.txt."""
    value = os.environ.get("CITYGIS_DEMO_PASSWORD") or settings.CITYGIS_DEMO_PASSWORD
    if value:
        return value
    path = Path(settings.VAR_DIR) / "demo-credentials.txt"
    if path.exists():
        for line in path.read_text().splitlines():
            if line.startswith("password:"):
                return line.split(":", 1)[1].strip()
    value = secrets.token_urlsafe(12)
    path.write_text(f"CityGIS demo accounts (demo dataset only)\npassword: {value}\n")
    path.chmod(0o600)
    return value


def run(ctx) -> None:
    """Create the departments and demo users (idempotent: existing users keep their data, get the password)."""
    depts = {}
    for code, zh, en, disposes in DEPARTMENTS:
        depts[code], _ = Department.objects.update_or_create(
            code=code, defaults={"name_zh": zh, "name_en": en, "is_disposal_unit": disposes}
        )
    password = demo_password()
    rng = ctx.rng("accounts")
    staff = list(STAFF)
    for i in range(1, INSPECTORS + 1):
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        staff.append((f"inspector{i}", f"监督员 {name}", [Role.INSPECTOR], "urban"))
    for code, zh, _en, disposes in DEPARTMENTS:
        if code == "urban":
            continue
        roles = [Role.DATA_STEWARD] + ([Role.HANDLER] if disposes else [])
        staff.append((f"dept_{code}", zh, roles, code))
    for username, display, roles, dept in staff:
        user, _ = User.objects.update_or_create(
            username=username,
            defaults={
                "display_name": display,
                "roles": [str(r) for r in roles],
                "department": depts[dept],
                "is_staff": username == "admin" or Role.DATA_STEWARD in roles,
                "is_superuser": username == "admin",
            },
        )
        user.set_password(password)
        user.save(update_fields=["password"])
