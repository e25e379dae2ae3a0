"""/api/v1/products: The catalogue of products and services the team sells (Producto)."""

from __future__ import annotations

from crm_gateway.routing import Resource

res = Resource("products", "Products", "The catalogue of products and services the team sells (Producto).")
