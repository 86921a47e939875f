from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render


@login_required
def home(request):
    return render(request, "core/home.html", {})


def healthz(request):
    with connection.cursor() as cur:
        cur.execute("select 1")
    return JsonResponse({"status": "ok"})
