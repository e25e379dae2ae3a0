from crm_campaigns.bootstrap import SPEC
from crm_platform.service import main

main(SPEC)
