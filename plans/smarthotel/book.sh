#!/bin/sh
# book.sh PORT GUEST: writes a booking into the hotel database at PORT.
sh "$(dirname "$0")/pg.sh" sql "$1" "insert into bookings (guest, room, night) values ('$2', 200 + (random() * 99)::int, current_date + 30) returning id"
