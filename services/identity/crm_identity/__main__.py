from crm_identity.bootstrap import SPEC
from crm_platform.service import main

main(SPEC)
