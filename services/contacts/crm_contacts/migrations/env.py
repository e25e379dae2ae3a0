from crm_contacts.adapters.tables import include_object, metadata
from crm_platform.migrations import run_env
from crm_platform.tables import platform_metadata

run_env([metadata, platform_metadata], include_object=include_object)
