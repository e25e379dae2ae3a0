"""The operator's command-line tool `crm` (up, status, test, migrate, create-user, rebuild-reports,
check-consistency, demo-data): the one package that knows every service by name and calls into
their own command modules, so that the shared library (crm_platform) knows none."""
