from django.urls import path

from sync import matching_views, views

urlpatterns = [
    path("", views.overview, name="overview"),
    path("overview/table", views.overview_fragment, name="overview-table"),
    path("tenants/<slug:code>/", views.tenant_detail, name="tenant-detail"),
    path("attention/", views.attention_list, name="attention-list"),
    path("attention/act", views.attention_act, name="attention-act"),
    path("runs/", views.run_list, name="run-list"),
    path("runs/<int:run_id>/", views.run_detail, name="run-detail"),
    path("cfdis/", views.cfdi_list, name="cfdi-list"),
    path("cfdis/retry", views.cfdi_bulk_retry, name="cfdi-bulk-retry"),
    path("cfdis/<int:cfdi_id>/", views.cfdi_detail, name="cfdi-detail"),
    path("cfdis/<int:cfdi_id>/retry", views.cfdi_retry, name="cfdi-retry"),
    path("cfdis/<int:cfdi_id>/original.xml", views.cfdi_original, name="cfdi-original"),
    path("cfdis/<int:cfdi_id>/addenda.xml", views.cfdi_addenda, name="cfdi-addenda"),
    path("payments/", views.payment_list, name="payment-list"),
    path("pos/", views.po_list, name="po-list"),
    path("matches/", matching_views.match_list, name="match-list"),
    path("matches/find", matching_views.match_find, name="match-find"),
    path("matches/<int:match_id>/confirm", matching_views.match_confirm, name="match-confirm"),
    path("matches/<int:match_id>/reject", matching_views.match_reject, name="match-reject"),
    path("scheduler/", views.scheduler, name="scheduler"),
    path("scheduler/pause", views.pause, name="pause"),
    path("scheduler/resume", views.resume, name="resume"),
    path("scheduler/run", views.run_now, name="run-now"),
    path("scheduler/release-lease", views.release_lease, name="release-lease"),
    path("api/status", views.api_status, name="api-status"),
    path("api/stats", views.api_stats, name="api-stats"),
]
