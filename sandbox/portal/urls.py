"""The portal stand-in's routes: /sandbox/portal/api/1.0/... as in focaltec/openapi.json."""
from django.urls import path

from sandbox.portal import views

EXTERN = "api/1.0/extern/tenants/<str:tenant_id>/"
BATCH = "api/1.0/batch/tenants/<str:tenant_id>/"

urlpatterns = [
    path(EXTERN + "providers", views.providers),
    path(EXTERN + "providers/<str:provider_id>", views.provider),
    path(EXTERN + "providers/<str:provider_id>/external-id", views.provider_external_id),
    path(EXTERN + "purchase-orders", views.purchase_orders),
    path(EXTERN + "purchase-orders/<str:po_id>", views.purchase_order),
    path(EXTERN + "purchase-orders/<str:po_id>/status", views.purchase_order_status),
    path(BATCH + "purchase-orders", views.batch_purchase_orders),
    path(BATCH + "purchase-orders/batches/<str:batch_id>/status", views.purchase_order_batch_status),
    path(EXTERN + "cfdis", views.cfdis),
    path(EXTERN + "cfdis/<str:cfdi_id>", views.cfdi),
    path(EXTERN + "cfdis/<str:cfdi_id>/files", views.cfdi_files),
    path(BATCH + "cfdis", views.batch_cfdis),
    path(EXTERN + "payments", views.payments),
    path(EXTERN + "payments/<str:payment_id>", views.payment),
    path(BATCH + "payments", views.batch_payments),
    # Not on the API: the pre-signed storage link CFDI files are served from.
    path("files/<str:name>", views.cfdi_file),
]
