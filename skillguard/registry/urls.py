from django.urls import path

from skillguard.registry import views

app_name = "registry"
urlpatterns = [
    path("districts/", views.district_list, name="district_list"),
    path("catalogue/", views.course_list, name="course_list"),

    path("institutions/", views.institution_list, name="institution_list"),
    path("institutions/new/", views.institution_create, name="institution_create"),
    path("institutions/<int:pk>/", views.institution_detail, name="institution_detail"),
    path("institutions/<int:pk>/edit/", views.institution_edit, name="institution_edit"),
    path("institutions/<int:pk>/filings/new/", views.filing_create, name="filing_create"),
    path("institutions/<int:pk>/venues/new/", views.venue_create, name="venue_create"),
    path("institutions/<int:pk>/teachers/new/", views.teacher_create, name="teacher_create"),
    path("institutions/<int:pk>/classes/new/", views.class_create, name="class_create"),

    path("venues/<int:pk>/", views.venue_detail, name="venue_detail"),
    path("venues/<int:pk>/edit/", views.venue_edit, name="venue_edit"),
    path("venues/<int:pk>/rooms/new/", views.room_create, name="room_create"),

    path("teachers/", views.teacher_list, name="teacher_list"),
    path("teachers/<int:pk>/", views.teacher_detail, name="teacher_detail"),
    path("teachers/<int:pk>/edit/", views.teacher_edit, name="teacher_edit"),
    path("teachers/<int:pk>/qualifications/new/", views.qualification_create,
         name="qualification_create"),
    path("teachers/<int:pk>/reveal/<str:field>/", views.teacher_reveal, name="teacher_reveal"),

    path("trainees/", views.trainee_list, name="trainee_list"),
    path("trainees/new/", views.trainee_create, name="trainee_create"),
    path("trainees/<int:pk>/", views.trainee_detail, name="trainee_detail"),
    path("trainees/<int:pk>/edit/", views.trainee_edit, name="trainee_edit"),
    path("trainees/<int:pk>/reveal/<str:field>/", views.trainee_reveal, name="trainee_reveal"),

    path("classes/", views.class_list, name="class_list"),
    path("classes/<int:pk>/", views.class_detail, name="class_detail"),
    path("classes/<int:pk>/edit/", views.class_edit, name="class_edit"),
    path("classes/<int:pk>/transition/", views.class_transition, name="class_transition"),
    path("classes/<int:pk>/sessions/new/", views.session_create, name="session_create"),
    path("classes/<int:pk>/enrol/", views.enrol, name="enrol"),

    path("sessions/", views.session_list, name="session_list"),
    path("sessions/<int:pk>/edit/", views.session_edit, name="session_edit"),
    path("sessions/<int:pk>/delete/", views.session_delete, name="session_delete"),

    path("enrolments/<int:pk>/withdraw/", views.enrolment_withdraw, name="enrolment_withdraw"),
]
