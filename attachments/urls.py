from django.urls import path

from . import views

urlpatterns = [
    path("incidents/<str:reference>/", views.attach_files, name="attach_files"),
    path("<int:pk>/", views.download, name="attachment"),
    path("<int:pk>/thumbnail/", views.thumbnail, name="attachment_thumbnail"),
    path("<int:pk>/remove/", views.remove, name="remove_attachment"),
]
