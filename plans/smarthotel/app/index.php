<?php
// SmartHotel: the newest bookings, read from PostgreSQL.
$cfg = parse_ini_file(__DIR__ . '/config.ini', true);
$site = json_decode(file_get_contents(__DIR__ . '/site.json'), true);
$db = $cfg['database'];
$c = @pg_connect(sprintf("host=%s port=%d dbname=%s user=%s connect_timeout=3",
    $db['host'], $db['port'], $db['name'], $db['user']));
if (!$c) { http_response_code(503); echo "database unreachable\n"; exit; }
$r = pg_query($c, "select id, guest, room, night from bookings order by id desc limit 50");
header('Content-Type: text/html; charset=utf-8');
echo "<!DOCTYPE html><title>SmartHotel</title><h1>SmartHotel bookings</h1>\n";
echo "<p>Served from site: " . htmlspecialchars($site['name']) . "</p>\n<table>\n";
while ($row = pg_fetch_assoc($r)) {
    printf("<tr><td>%d</td><td>%s</td><td>%d</td><td>%s</td></tr>\n", $row['id'],
        htmlspecialchars($row['guest']), $row['room'], htmlspecialchars($row['night']));
}
echo "</table>\n";
