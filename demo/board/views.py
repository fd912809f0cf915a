"""The board page, its form, and the item list as JSON (for the page to
refresh itself after switching rooms or after a reconnect). None of these
views publishes anything: the Item's registered model events do."""
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from .forms import ItemForm
from .models import ROOMS, Item

PAGE_ITEMS = 50  # newest items rendered; older ones scroll out of the page


def _room(request: HttpRequest) -> str:
    """?room=NAME when NAME is a known room, else "" (every room)."""
    room = request.GET.get("room", "")
    return room if room in dict(ROOMS) else ""


def _items(room: str):
    items = Item.objects.all()
    if room:
        items = items.filter(room=room)
    return items[:PAGE_ITEMS]


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    """GET: the board. POST: a new item; the page's script posts with
    Accept: application/json and gets 201 + the item (or 400 + the form
    errors); a plain form post is redirected back to the board."""
    room = _room(request)
    if request.method == "POST":
        form = ItemForm(request.POST)
        if form.is_valid():
            item = form.save()
            if _wants_json(request):
                return JsonResponse(item.as_json(), status=201)
            url = reverse("board:index")
            return redirect(f"{url}?room={room}" if room else url)
        if _wants_json(request):
            return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
        status = 400
    else:
        form = ItemForm(initial={"room": room or ROOMS[0][0]})
        status = 200
    context = {"form": form, "items": _items(room), "rooms": ROOMS, "room": room}
    return render(request, "board/index.html", context, status=status)


@require_GET
def items_json(request: HttpRequest) -> JsonResponse:
    """The newest items of ?room= (or of every room), newest first."""
    return JsonResponse({"items": [item.as_json() for item in _items(_room(request))]})
