"""The four roles of the application."""
CITY_ADMIN = "city_admin"
COUNTY_ADMIN = "county_admin"
INSPECTOR = "inspector"
READONLY = "readonly"

ROLE_LABELS = {
    CITY_ADMIN: "市局管理员",
    COUNTY_ADMIN: "县局管理员",
    INSPECTOR: "检查人员",
    READONLY: "只读",
}
ALL_ROLES = tuple(ROLE_LABELS)
