from crm_canvas.bootstrap import SPEC
from crm_platform.service import main

main(SPEC)
