from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from incidents import views as incident_views
from recovery.auth import ThrottledAuthenticationForm

urlpatterns = [
    path("", incident_views.home, name="home"),
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(authentication_form=ThrottledAuthenticationForm), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("notifications/", include("followups.urls")),
    path("manage/", include("incidents.insights.urls")),
]
