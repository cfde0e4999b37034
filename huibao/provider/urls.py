from django.urls import path

from huibao.provider.web import views

app_name = "provider"

urlpatterns = [
    path("", views.task_list, name="tasks"),
    path("tasks/<uuid:public_id>/", views.task_detail, name="task"),
    path("tasks/<uuid:public_id>/files/<int:file_id>/", views.task_file, name="task_file"),
    path("staff/providers/", views.providers, name="providers"),
    path("staff/providers/<uuid:public_id>/status/", views.provider_status, name="provider_status"),
]
