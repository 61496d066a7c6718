-- After the web group is healthy: the bookings page answers from this
-- site, and its newest booking is the one written last at the primary.
local r = http.get(site.url(18080, "/"))
assert(r.status == 200, "bookings page: HTTP " .. r.status)
assert(r.body:find("Served from site: " .. site.name, 1, true), "the page is not served by site " .. site.name)
local rows = select(2, r.body:gsub("<tr>", ""))
log("bookings page at %s: %d booking(s), served by %s", site.url(18080, "/"), rows, site.name)
return { bookings = rows }
