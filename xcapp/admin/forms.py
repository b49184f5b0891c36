from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length


class UserForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名"), Length(max=64)])
    display_name = StringField("姓名", validators=[Length(max=64)])
    role = SelectField("角色", validators=[DataRequired("请选择角色")])
    unit_code = SelectField("单位", validators=[DataRequired("请选择单位")])
    password = PasswordField("初始密码", validators=[DataRequired("请输入密码"), Length(min=8, max=256, message="密码至少 8 位")])
