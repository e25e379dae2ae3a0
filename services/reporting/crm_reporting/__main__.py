from crm_platform.service import main
from crm_reporting.bootstrap import SPEC

main(SPEC)
