"""Names vulture reports as unused in xcapp/ that are used where it cannot look.

vulture reads Python only, by name. `make test` runs it over xcapp/ and this file
(tests/unit/test_dead_code.py, settings in pyproject.toml's [tool.vulture]); a name
mentioned here counts as used. Add a name only with its reason, under the matching
heading; code that nothing uses is deleted instead. Views, commands, template globals,
error handlers and SQLAlchemy listeners are registered by decorators and need no entry
(ignore_decorators in pyproject.toml).

This file is parsed, never run.
"""

# --- Entry points outside xcapp/: wsgi.py, the test suite, bench/ -----------------------
create_app
TestConfig

# --- Flask config keys: read by Flask and its extensions or as app.config["..."] -------
SECRET_KEY
SQLALCHEMY_DATABASE_URI
SQLALCHEMY_ENGINE_OPTIONS
SQLITE_BUSY_TIMEOUT_MS
PERMANENT_SESSION_LIFETIME
SESSION_REFRESH_EACH_REQUEST
WTF_CSRF_TIME_LIMIT
WTF_CSRF_HEADERS
WTF_CSRF_ENABLED
SESSION_COOKIE_HTTPONLY
SESSION_COOKIE_SAMESITE
SESSION_COOKIE_SECURE
REMEMBER_COOKIE_HTTPONLY
REMEMBER_COOKIE_SAMESITE
REMEMBER_COOKIE_SECURE
MAX_CONTENT_LENGTH
IMPORT_FILE_RETENTION_DAYS
LOGIN_FAILURE_WINDOW
LOGIN_ACCOUNT_FREE_FAILURES
LOGIN_ADDRESS_FREE_FAILURES
LOGIN_DELAY_BASE
LOGIN_ACCOUNT_MAX_DELAY
LOGIN_ADDRESS_MAX_DELAY
SLOW_WORK_NICE
SEND_FILE_MAX_AGE_DEFAULT
PUBLIC_BASE_URL
TRUSTED_PROXIES
PRODUCTION
TESTING

# --- Attributes a library reads: set on its objects ------------------------------------
_.login_view              # Flask-Login (auth/login_setup.py)
_.login_message
_.session_protection
_.get_id                  # Flask-Login's user protocol (auth/models.py)
_.permanent               # flask.session
_.direct_passthrough      # werkzeug Response (compression.py)
_.isolation_level         # sqlite3 connection (db_setup.py)
_.expire_on_commit        # SQLAlchemy session (inspections/routes.py)
metadata                  # Flask-SQLAlchemy's naming convention (extensions.py)
_.number_format           # openpyxl cells and sheets
_.alignment
_.freeze_panes
_.compress_type           # zipfile.ZipInfo (reports/archive.py)
_.external_attr
_.writable                # io.RawIOBase protocol (reports/archive.py _Pipe)
_.tell
_.buffer_text             # xml.parsers.expat (registry/xlsx_reader.py)
_.StartDoctypeDeclHandler
_.EntityDeclHandler
_.ExternalEntityRefHandler
_.StartElementHandler
_.EndElementHandler
_.CharacterDataHandler

# --- flask.g flags, read back as g.get("...") ------------------------------------------
_._xcapp_writing
_._xcapp_read_only
_.key_reused
_.version_conflict

# --- Database columns written by the app, read by templates, SQL or migrations ---------
created_by
frozen_at
entropy_source
drawn_by
added_at
added_by
added_by_name
replaced_at
replaced_by
replace_reason
uploaded_at
recorded_by
entered_by
entered_at
equipment_confirmed_by
enterprise_signed_at
submitted_by
geo_lat
geo_lon
geo_accuracy
decision_date
last_exported_at
exported_by
confirmed_by
confirmed_at
product_scope

# --- Read only by templates (Jinja) -----------------------------------------------------
_.self_check_label        # inspections/models.py
_.expiry_warning          # registry/models.py
_.problem_list            # registry/models.py (ImportBatch)
OVERALL_LABELS            # inspections/rules.py, as rules.OVERALL_LABELS
NOTE_1
NOTE_2
equipment_ok              # inspections/services.py (record state)
filled                    # inspections/services.py (record state: 已填 n/12)
sample_total              # plans/services.py (draw preview)
match_label               # registry/importing.py (column mapping)
ratio_low                 # plans/forms.py: WTForms fields rendered by name
ratio_mid
ratio_midhigh
ratio_high

# --- Vocabulary members (core/vocab.py): stored values that forms and templates offer by
# --- iterating the StrEnum, so no code names them ----------------------------------------
_._value_                 # enum protocol: the member's value, set in Vocabulary.__new__
MATCH                     # inspections/vocab.py SelfCheckMatch: the self-check radio buttons
PARTLY
MISMATCH
NONE
DOCUMENT                  # plans/vocab.py TaskMethod: the 检查方式 radio buttons
ONLINE

# --- Kept for the tests: hooks and the surface of pure modules -------------------------
_.wait_idle               # audit/services.py: tests wait for the background chainer
_.check_password          # auth/models.py: tests check what set_password stored
_.covers                  # publicity/workdays.py: which years the calendar can answer
_.allows_na               # inspections/rules.py: tests read the form's definition
_.leaf_options
overall_conclusion        # inspections/rules.py: note 2 on its own (status() uses verdict())
is_complete
source_format             # registry/tabular.py: which reader parsed the table
