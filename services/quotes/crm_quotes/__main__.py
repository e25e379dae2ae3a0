from crm_platform.service import main
from crm_quotes.bootstrap import SPEC

main(SPEC)
