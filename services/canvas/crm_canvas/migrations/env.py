from crm_canvas.adapters.tables import metadata
from crm_platform.migrations import run_env
from crm_platform.tables import platform_metadata

run_env([metadata, platform_metadata])
