from django.http import HttpResponse


def start(request, kind):  # placeholder until the import UI lands
    return HttpResponse(status=404)
