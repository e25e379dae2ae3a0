"""The canvas service: business-model canvases whose notes link to real CRM records."""
