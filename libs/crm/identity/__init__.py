"""Generated from protos/ by `crm gen-protos`: do not edit."""
