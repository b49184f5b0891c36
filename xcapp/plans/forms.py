from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Optional

from .vocab import RatioField


class PlanForm(FlaskForm):
    code = StringField("计划编号")
    name = StringField("计划名称")
    year = IntegerField("年度", validators=[Optional()])
    scope = SelectMultipleField("抽查范围（产品类别，不选为全部）", coerce=str, validate_choice=False)
    ratio_low = IntegerField(RatioField.LOW.label, validators=[Optional()])
    ratio_mid = IntegerField(RatioField.MID.label, validators=[Optional()])
    ratio_midhigh = IntegerField(RatioField.MIDHIGH.label, validators=[Optional()])
    ratio_high = IntegerField(RatioField.HIGH.label, validators=[Optional()])
    k = IntegerField("每户企业检查人员人数", validators=[Optional()])
    deadline = StringField("检查截止日期")
    publication_workdays = IntegerField("结果公示期限（工作日）", validators=[Optional()])


class EntropyForm(FlaskForm):
    entropy = TextAreaField("随机数来源（熵）")
    reason = StringField("重新抽取理由")


class ReplaceForm(FlaskForm):
    reason = StringField("更换理由")
