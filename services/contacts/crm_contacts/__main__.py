from crm_contacts.bootstrap import SPEC
from crm_platform.service import main

main(SPEC)
