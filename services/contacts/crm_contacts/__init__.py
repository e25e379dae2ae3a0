"""The contacts service: clients (Cliente), their contacts (Contacto) and prospects (Prospecto)."""
