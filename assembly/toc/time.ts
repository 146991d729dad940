// RFC 3339 timestamps ("2024-03-04T05:06:07Z", fractions and ±hh:mm offsets) to Unix seconds + nanoseconds.

export let timeSec: i64 = 0;
export let timeNsec: u32 = 0;

@inline function dig(p: usize): u32 {
  return <u32>load<u8>(p) - 0x30;
}

function two(p: usize): i32 {
  const a = dig(p), b = dig(p + 1);
  if (a > 9 || b > 9) return -1;
  return <i32>(a * 10 + b);
}

/** Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
function daysFromCivil(y: i64, m: i64, d: i64): i64 {
  y -= m <= 2 ? 1 : 0;
  const era = (y >= 0 ? y : y - 399) / 400;
  const yoe = y - era * 400;
  const doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(y: i32, m: i32): i32 {
  if (m == 2) return (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 29 : 28;
  return (m == 4 || m == 6 || m == 9 || m == 11) ? 30 : 31;
}

// Layers repeat timestamps (a package's files share one): remember the last text parsed.
const LAST: usize = memory.data(48);
let lastLen: usize = 0;
let lastSec: i64 = 0;
let lastNsec: u32 = 0;

/** Parses [p, p+n); false if it is not an RFC 3339 date-time. Sets timeSec / timeNsec. */
export function parseTime(p: usize, n: usize): bool {
  if (n == lastLen && n <= 40 && load<u64>(p) == load<u64>(LAST) && load<u64>(p, 8) == load<u64>(LAST, 8) && memory.compare(p, LAST, n) == 0) {
    timeSec = lastSec;
    timeNsec = lastNsec;
    return true;
  }
  if (!parseTimeText(p, n)) return false;
  if (n <= 40) {
    memory.copy(LAST, p, n);
    lastLen = n;
    lastSec = timeSec;
    lastNsec = timeNsec;
  }
  return true;
}

function parseTimeText(p: usize, n: usize): bool {
  if (n < 20) return false;
  const y1 = two(p), y2 = two(p + 2);
  if (y1 < 0 || y2 < 0) return false;
  const year = y1 * 100 + y2;
  if (load<u8>(p + 4) != 0x2d || load<u8>(p + 7) != 0x2d || load<u8>(p + 13) != 0x3a || load<u8>(p + 16) != 0x3a) return false;
  const t = load<u8>(p + 10);
  if (t != 0x54 && t != 0x74) return false;
  const mon = two(p + 5), day = two(p + 8), hh = two(p + 11), mm = two(p + 14), ss = two(p + 17);
  if (mon < 1 || mon > 12 || day < 1 || day > daysInMonth(year, mon)) return false;
  if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 59) return false;
  let i: usize = 19;
  let nsec: u32 = 0;
  if (load<u8>(p + i) == 0x2e) {
    i++;
    const s = i;
    let scale: u32 = 100000000;
    while (i < n && dig(p + i) <= 9) {
      nsec += dig(p + i) * scale;
      scale /= 10;
      i++;
    }
    if (i == s) return false;
  }
  if (i >= n) return false;
  const z = load<u8>(p + i);
  let off: i64 = 0;
  if (z == 0x5a || z == 0x7a) {
    i++;
  } else if (z == 0x2b || z == 0x2d) {
    if (i + 6 > n || load<u8>(p + i + 3) != 0x3a) return false;
    const oh = two(p + i + 1), om = two(p + i + 4);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return false;
    off = <i64>(oh * 3600 + om * 60);
    if (z == 0x2d) off = -off;
    i += 6;
  } else {
    return false;
  }
  if (i != n) return false;
  timeSec = daysFromCivil(year, mon, day) * 86400 + <i64>(hh * 3600 + mm * 60 + ss) - off;
  timeNsec = nsec;
  return true;
}
