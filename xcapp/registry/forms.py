"""Forms of the registries. They render the fields and carry the CSRF token;
the rules themselves live in fields.py and run in the services, so the web
form and the import check exactly the same things. Select fields do not check
their choices themselves (validate_choice=False): the field rules do, with the
import's aliases and Chinese messages."""
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import Optional

from .vocab import RISK_CHOICES, LicenceState, OfficerStatus, ProductionState


class EnterpriseForm(FlaskForm):
    name = StringField("企业名称")
    uscc = StringField("统一社会信用代码")
    address = StringField("住所")
    production_address = StringField("生产地址")
    legal_rep = StringField("法定代表人")
    contact = StringField("联系人")
    phone = StringField("联系电话")
    licence_no = StringField("生产许可证编号")
    issue_date = StringField("发证日期")
    expiry_date = StringField("有效期至")
    category_id = SelectField("产品类别", coerce=str, validate_choice=False)
    product_scope = TextAreaField("产品范围/产品单元")
    unit_id = SelectField("所属单位", coerce=str, validate_choice=False)
    risk = SelectField("风险等级", choices=[(r, r) for r in RISK_CHOICES], validate_choice=False)
    production_state = SelectField("生产状态", choices=[(s, s) for s in ProductionState], validate_choice=False)
    licence_state = SelectField("许可状态", choices=[(s, s) for s in LicenceState], validate_choice=False)


class OfficerForm(FlaskForm):
    name = StringField("姓名")
    cert_no = StringField("执法证号")
    unit_id = SelectField("单位", coerce=str, validate_choice=False)
    position = StringField("职务")
    phone = StringField("联系电话")
    cert_expiry = StringField("执法证有效期至")
    status = SelectField("在岗状态", choices=[(s, s) for s in OfficerStatus], validate_choice=False)
    specialty_id = SelectField("专长产品类别", coerce=str, validate_choice=False)


class EquipmentForm(FlaskForm):
    name = StringField("设备名称")
    model = StringField("规格型号")
    quantity = StringField("数量")


class RecusalForm(FlaskForm):
    officer_id = SelectField("检查人员", coerce=str)
    enterprise = StringField("企业（统一社会信用代码）")
    reason = StringField("回避理由")
    declared_on = DateField("申报日期", validators=[Optional()])


class CategoryForm(FlaskForm):
    name = StringField("类别名称")


class AccountLinkForm(FlaskForm):
    username = StringField("登录账号（用户名）")
