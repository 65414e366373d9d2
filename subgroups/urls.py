from django.urls import path

from subgroups import views

app_name = "subgroups"

urlpatterns = [
    path("communities/new/", views.community_create, name="community_new"),
    path("switch/", views.switch_community, name="switch"),
    path("c/<slug:slug>/", views.overview, name="overview"),
    path("c/<slug:slug>/tree/", views.tree, name="tree"),
    path("c/<slug:slug>/tree.mmd", views.mermaid_download, name="mermaid"),
    path("c/<slug:slug>/groups/new/", views.group_create, name="group_new"),
    path("c/<slug:slug>/groups/<int:pk>/", views.group_detail, name="group"),
    path("c/<slug:slug>/groups/<int:pk>/panel/", views.group_panel, name="group_panel"),
    path("c/<slug:slug>/groups/<int:pk>/rename/", views.group_rename, name="group_rename"),
    path("c/<slug:slug>/groups/<int:pk>/move/", views.group_move, name="group_move"),
    path("c/<slug:slug>/groups/<int:pk>/archive/", views.group_archive, name="group_archive"),
    path("c/<slug:slug>/groups/<int:pk>/restore/", views.group_restore, name="group_restore"),
    path("c/<slug:slug>/propose-name/", views.propose_name, name="propose_name"),
    path("c/<slug:slug>/settings/", views.community_settings, name="settings"),
]
