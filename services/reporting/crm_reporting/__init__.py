"""The reporting service: budgets (Presupuesto), reports (Informe) and management indicators, from events."""
