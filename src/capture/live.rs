//! Live capture through libpcap lives here (the `sensor` command).
