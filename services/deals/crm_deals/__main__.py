from crm_deals.bootstrap import SPEC
from crm_platform.service import main

main(SPEC)
