"""HTTP client of the Nearbank API: typed errors, timeouts and transparent token refresh.

Blocking by design: presenters call it on worker threads, never on the UI thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import requests

from mobile.core import errors
from mobile.core.models import BranchQueue, FoundPlace, Me, NearbyPage, PlaceDetail, Ticket
from mobile.core.offers import Consent, ConsentEvent, Notice, Offer, parse_offers
from mobile.core.tokens import TokenStore

API = "/api/v1"
DEFAULT_TIMEOUT = (3.05, 10.0)  # seconds to connect, seconds to wait for the answer
# The Accept-Language each of the app's languages sends: the server writes its texts (why
# lines, repayment lines, categories, error titles) in it.
ACCEPT_LANGUAGE = {"en": "en", "zh_CN": "zh-CN, zh;q=0.9, en;q=0.5"}


class ApiClient:
    """One signed-in (or signed-out) cardholder talking to one backend."""

    def __init__(self, base_url: str, tokens: TokenStore, *,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 session: requests.Session | None = None, language: str = "en") -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._tokens = tokens
        self._access: str | None = None
        self._lock = threading.Lock()
        self._http = session or requests.Session()
        self._http.headers.update({"Accept": "application/json, application/problem+json",
                                   "User-Agent": "Nearbank-app/0.1"})
        self.set_language(language)

    def set_language(self, language: str) -> None:
        """Ask for the server's texts in one of the app's languages from the next request on."""
        self._http.headers["Accept-Language"] = ACCEPT_LANGUAGE[language]

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    # -- session ------------------------------------------------------------------------------

    @property
    def has_session(self) -> bool:
        """True when a refresh token is stored (the user stays signed in across launches)."""
        return self._tokens.load() is not None

    def sign_in(self, email: str, password: str) -> Me:
        """Log in with a cardholder's credentials and remember only the refresh token.

        :raises InvalidCredentials: wrong e-mail address or password (401).
        :raises NotACardholder: the account is not a cardholder's; its session is revoked.
        """
        body = self._decode(self._send("POST", "/auth/login",
                                       json={"email": email, "password": password}),
                            login=True)
        access = _field(body, "access_token")
        refresh = _field(body, "refresh_token")
        with self._lock:
            self._access = access
            self._tokens.save(refresh)
        me = self.me()
        if me.role != "cardholder":
            self.sign_out()
            raise errors.NotACardholder("This app is for cardholders.")
        return me

    def sign_out(self) -> bool:
        """Revoke this login on the server and forget the tokens; False if revocation failed.

        The tokens are forgotten on this device in every case.
        """
        token = self._tokens.load() or self._access
        with self._lock:
            self._access = None
            self._tokens.clear()
        if token is None:
            return True
        try:
            response = self._send("POST", "/auth/logout", token=token)
        except errors.Offline:
            return False
        # 401: the session had already ended (expired or revoked elsewhere): nothing to revoke.
        return response.status_code in (204, 401)

    def me(self) -> Me:
        """The signed-in user."""
        return Me.parse(self._call("GET", "/me", auth=True))

    # -- places (public) -----------------------------------------------------------------------

    def nearby_branches(self, lat: float, lon: float, *, radius_m: float | None = None,
                        limit: int | None = None, open_now: bool = False,
                        accessibility: Iterable[str] = (),
                        order: str | None = None) -> NearbyPage:
        """Branches nearest first, or served soonest first (`order="soonest_served"`)."""
        params = _point(lat, lon, radius_m, limit, open_now, accessibility)
        if order:
            params["order"] = order
        return NearbyPage.parse(self._call("GET", "/branches/nearby", params=params))

    def repayment_points(self, lat: float, lon: float, *, radius_m: float | None = None,
                         limit: int | None = None, open_now: bool = False,
                         accessibility: Iterable[str] = (), methods: Iterable[str] = (),
                         fee_free: bool = False) -> NearbyPage:
        """Places where a credit card can be repaid, nearest first."""
        params = _point(lat, lon, radius_m, limit, open_now, accessibility)
        methods = list(methods)
        if methods:
            params["method"] = ",".join(methods)
        if fee_free:
            params["fee_free"] = "true"
        return NearbyPage.parse(self._call("GET", "/repayment-points/nearby", params=params))

    def find_place(self, query: str) -> FoundPlace:
        """Where a typed place name or postcode is (the server asks its geocoding service).

        :raises NotFound: nothing matches (404).
        :raises RateLimited: this device searched too often (429).
        :raises ServerError: the geocoding service is down (503).
        """
        return FoundPlace.parse(self._call("GET", "/geocode", params={"q": query}))

    def promotions_notice(self) -> Notice:
        """The promotions notice in force: its version and its text in each language."""
        return Notice.parse(self._call("GET", "/privacy/notices/promotions"))

    def place(self, place_id: str) -> PlaceDetail:
        """One place with its week of opening hours.

        :raises NotFound: no place has that id.
        """
        return PlaceDetail.parse(self._call("GET", f"/places/{place_id}"))

    def branch_queue(self, branch_id: str, line: str | None = None) -> BranchQueue:
        """A branch's queue with every line's open desks, and whether it takes tickets.

        :raises NotFound: no branch has that id.
        """
        params = {"line": line} if line else None
        queue = BranchQueue.parse(self._call("GET", f"/branches/{branch_id}/queue",
                                             params=params))
        if queue is None:
            raise errors.MalformedResponse("the branch's queue must be an object")
        return queue

    # -- remote tickets (signed in) ------------------------------------------------------------

    def take_ticket(self, branch_id: str, line: str) -> Ticket:
        """Take a ticket for a line at a branch.

        :raises Conflict: a ticket is held already, or the branch takes none (409).
        :raises RateLimited: too many tickets taken lately (429).
        """
        return Ticket.parse(self._call("POST", f"/branches/{branch_id}/tickets", auth=True,
                                       json={"line": line}))

    def my_tickets(self) -> list[Ticket]:
        """The cardholder's tickets of the last day, newest first."""
        return Ticket.parse_list(self._call("GET", "/me/tickets", auth=True))

    def cancel_ticket(self, ticket_id: str) -> Ticket:
        """Cancel one of the cardholder's tickets.

        :raises Conflict: the ticket is over already (409).
        """
        return Ticket.parse(self._call("DELETE", f"/me/tickets/{ticket_id}", auth=True))

    # -- consent and offers (signed in) --------------------------------------------------------

    def consent(self) -> Consent:
        """The cardholder's current choice about promotions."""
        return Consent.parse(self._call("GET", "/me/consent", auth=True))

    def update_consent(self, promotions: bool, categories: Iterable[str], max_offers: int,
                       policy_version: str | None) -> Consent:
        """Record the cardholder's whole choice (the server appends it to the consent ledger).

        :raises PolicyChanged: the promotions notice the app showed is no longer current (409).
        """
        body: dict[str, Any] = {"promotions_enabled": promotions,
                                "categories": list(categories), "max_offers": max_offers,
                                "channel": "app"}
        if policy_version:
            body["policy_version"] = policy_version
        return Consent.parse(self._call("PUT", "/me/consent", auth=True, json=body))

    def consent_history(self) -> list[ConsentEvent]:
        """Every grant, change and withdrawal, as the server's ledger holds them."""
        return ConsentEvent.parse_list(self._call("GET", "/me/consent/history", auth=True))

    def export_data(self) -> dict[str, Any]:
        """Everything the bank holds about the cardholder, as JSON."""
        body = self._call("GET", "/me/data", auth=True)
        if not isinstance(body, dict):
            raise errors.MalformedResponse("the data export must be a JSON object")
        return body

    def offers_nearby(self, lat: float, lon: float, *, radius_m: float | None = None,
                      category: str | None = None) -> list[Offer]:
        """Offers near a point for an opted-in cardholder.

        :raises PromotionsNotEnabled: the cardholder has not opted in (403).
        """
        params: dict[str, Any] = {"lat": lat, "lon": lon}
        if radius_m is not None:
            params["radius_m"] = radius_m
        if category:
            params["category"] = category
        return parse_offers(self._call("GET", "/offers/nearby", auth=True, params=params))

    # -- plumbing ------------------------------------------------------------------------------

    def _send(self, method: str, path: str, *, token: str | None = None,
              params: dict[str, Any] | None = None,
              json: Any = None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:
            return self._http.request(method, self.base_url + API + path, params=params,
                                      json=json, headers=headers, timeout=self.timeout)
        except requests.Timeout as exc:
            raise errors.Slow("The server took too long to answer.") from exc
        except requests.RequestException as exc:
            raise errors.Offline("The server cannot be reached.") from exc

    def _call(self, method: str, path: str, *, auth: bool = False,
              params: dict[str, Any] | None = None, json: Any = None) -> Any:
        if not auth:
            return self._decode(self._send(method, path, params=params, json=json))
        token = self._access or self._refresh(failed=None)
        response = self._send(method, path, token=token, params=params, json=json)
        if response.status_code == 401:
            # The access token expired (or the server restarted with a new key): refresh once.
            token = self._refresh(failed=token)
            response = self._send(method, path, token=token, params=params, json=json)
            if response.status_code == 401:
                self._forget()
                raise errors.AuthRequired("Please sign in again.", 401, _problem(response))
        return self._decode(response)

    def _refresh(self, failed: str | None) -> str:
        with self._lock:
            if self._access is not None and self._access != failed:
                return self._access  # another thread refreshed while this one waited
            refresh = self._tokens.load()
            if refresh is None:
                raise errors.AuthRequired("Please sign in.")
            response = self._send("POST", "/auth/refresh", token=refresh)
            if response.status_code == 401:
                self._access = None
                self._tokens.clear()
                raise errors.AuthRequired("Your session has ended; please sign in again.",
                                          401, _problem(response))
            self._access = _field(self._decode(response), "access_token")
            return self._access

    def _forget(self) -> None:
        with self._lock:
            self._access = None
            self._tokens.clear()

    def _decode(self, response: requests.Response, *, login: bool = False) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            if status == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise errors.MalformedResponse("The server's answer is not JSON.",
                                               status) from None
        problem = _problem(response)
        detail = problem.get("detail") if isinstance(problem.get("detail"), str) else ""
        if status == 401:
            error: type[errors.ApiError] = (errors.InvalidCredentials if login
                                            else errors.AuthRequired)
        elif status == 403:
            type_ = problem.get("type")
            error = (errors.PromotionsNotEnabled if isinstance(type_, str)
                     and type_.endswith(errors.PROMOTIONS_NOT_ENABLED) else errors.Forbidden)
        elif status == 404:
            error = errors.NotFound
        elif status == 409:
            error = errors.Conflict
        elif status == 429:
            error = errors.RateLimited
        elif status in (400, 422):
            error = errors.InvalidRequest
        elif status >= 500:
            error = errors.ServerError
        else:
            error = errors.ApiError
        raise error(detail or f"HTTP {status}", status, problem)


def _problem(response: requests.Response) -> dict[str, Any]:
    """The problem+json body of an error response, or {} when it is not one."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _field(body: Any, key: str) -> str:
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, str) or not value:
        raise errors.MalformedResponse(f"The server's answer has no {key}.")
    return value


def _point(lat: float, lon: float, radius_m: float | None, limit: int | None, open_now: bool,
           accessibility: Iterable[str]) -> dict[str, Any]:
    params: dict[str, Any] = {"lat": lat, "lon": lon}
    if radius_m is not None:
        params["radius_m"] = radius_m
    if limit is not None:
        params["limit"] = limit
    if open_now:
        params["open_now"] = "true"
    codes = list(accessibility)
    if codes:
        params["accessibility"] = ",".join(codes)
    return params
