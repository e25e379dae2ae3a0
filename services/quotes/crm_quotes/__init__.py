"""The quotes service: the product catalogue (Producto) and quotes (Cotización) with PDF."""
