//! The timestamp pattern the painter shows and `tests/browser/g2g.mjs` reads back.
//!
//! One row of [`CELLS`] square cells, [`CELL`] px each, starting at ([`ORIGIN`], [`ORIGIN`]) in
//! screen pixels (both multiples of 16, so every cell covers whole H.264 macroblocks):
//! - cell 0 white, cell 1 black: the markers (a shifted, inverted or missing row fails them);
//! - cells 2..26: the wall clock in milliseconds modulo 2^24 (about 4.6 h), most significant bit
//!   first, white = 1;
//! - cells 26..34: CRC-8 (polynomial 0x07) of those three bytes, so a blurred or misread cell
//!   rejects the frame instead of giving a wrong time.
//!
//! Keep this in step with the decoder in `tests/browser/g2g.mjs`.

/// Cell edge in screen pixels.
pub const CELL: u16 = 32;
/// Left and top edge of the row in screen pixels.
pub const ORIGIN: i16 = 32;
/// Timestamp bits.
pub const TIME_BITS: u32 = 24;
const CHECK_BITS: u32 = 8;
/// Markers, timestamp and check cells.
pub const CELLS: usize = 2 + TIME_BITS as usize + CHECK_BITS as usize;

/// CRC-8, polynomial x^8 + x^2 + x + 1 (0x07), initial value 0, no reflection.
pub fn crc8(bytes: &[u8]) -> u8 {
    let mut crc = 0u8;
    for &b in bytes {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 { (crc << 1) ^ 0x07 } else { crc << 1 };
        }
    }
    crc
}

/// Which cells are white for the wall-clock time `unix_ms`.
pub fn cells(unix_ms: u64) -> [bool; CELLS] {
    let value = (unix_ms % (1 << TIME_BITS)) as u32;
    let [_, b2, b1, b0] = value.to_be_bytes();
    let check = crc8(&[b2, b1, b0]);
    let mut out = [false; CELLS];
    out[0] = true;
    for i in 0..TIME_BITS {
        out[2 + i as usize] = value >> (TIME_BITS - 1 - i) & 1 == 1;
    }
    for i in 0..CHECK_BITS {
        out[2 + TIME_BITS as usize + i as usize] = check >> (CHECK_BITS - 1 - i) & 1 == 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc8_matches_the_standard_check_value() {
        // CRC-8 (SMBus) check value for "123456789".
        assert_eq!(crc8(b"123456789"), 0xF4);
    }

    #[test]
    fn cells_carry_markers_time_and_check() {
        let ms = (1u64 << 40) + 0x00AB_CDEF;
        let c = cells(ms);
        assert!(c[0] && !c[1]);
        let time = c[2..26].iter().fold(0u32, |v, &bit| v << 1 | u32::from(bit));
        assert_eq!(time, 0x00AB_CDEF);
        let check = c[26..].iter().fold(0u8, |v, &bit| v << 1 | u8::from(bit));
        assert_eq!(check, crc8(&[0xAB, 0xCD, 0xEF]));
    }

    #[test]
    fn one_millisecond_later_changes_the_check() {
        assert_ne!(cells(1000)[26..], cells(1001)[26..]);
    }
}
