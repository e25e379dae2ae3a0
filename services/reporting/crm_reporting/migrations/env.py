from crm_platform.migrations import run_env
from crm_platform.tables import platform_metadata
from crm_reporting.adapters.tables import metadata

run_env([metadata, platform_metadata])
