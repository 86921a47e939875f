"""Reference data every installation starts with: Shanghai's 16 districts."""
from __future__ import annotations

DISTRICTS = [
    ("310101", "黄浦区", "Huangpu"), ("310104", "徐汇区", "Xuhui"),
    ("310105", "长宁区", "Changning"), ("310106", "静安区", "Jing'an"),
    ("310107", "普陀区", "Putuo"), ("310109", "虹口区", "Hongkou"),
    ("310110", "杨浦区", "Yangpu"), ("310112", "闵行区", "Minhang"),
    ("310113", "宝山区", "Baoshan"), ("310114", "嘉定区", "Jiading"),
    ("310115", "浦东新区", "Pudong New Area"), ("310116", "金山区", "Jinshan"),
    ("310117", "松江区", "Songjiang"), ("310118", "青浦区", "Qingpu"),
    ("310120", "奉贤区", "Fengxian"), ("310151", "崇明区", "Chongming"),
]


def ensure_districts(district_model=None) -> None:
    """Create the seeded districts that are missing (idempotent; migrations and tests)."""
    if district_model is None:
        from skillguard.registry.models import District as district_model
    if district_model.objects.count() >= len(DISTRICTS):
        return
    for order, (code, name, name_en) in enumerate(DISTRICTS, start=1):
        district_model.objects.update_or_create(code=code, defaults={
            "name": name, "name_en": name_en, "sort_order": order})
