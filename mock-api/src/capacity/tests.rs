//! Capacity: parsing and validation, scaling, the pool's FIFO queue and the token bucket.
