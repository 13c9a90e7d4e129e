from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:  # placeholder until the ops work lands
    return JsonResponse({"status": "starting"}, status=503)
