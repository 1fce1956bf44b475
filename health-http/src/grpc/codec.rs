//! prost's codec with buffers sized for health messages.

use std::marker::PhantomData;

use prost::Message;
use tonic::codec::{BufferSettings, Codec};
use tonic_prost::{ProstDecoder, ProstEncoder};

/// Bytes allocated up front per call and per direction. A response is 7 bytes framed and
/// a request a name, so tonic's default (8 KiB) would sit mostly empty, and a Watch keeps
/// its encode buffer for as long as it is open: 8 KiB × 10,000 watchers is 80 MB. A
/// larger message (a long `List`) grows the buffer as needed.
const BUFFER_SIZE: usize = 128;

/// tonic's default: how much encoded output is gathered before it is handed to the
/// connection.
const YIELD_THRESHOLD: usize = 32 * 1024;

/// The codec of the generated client and server (`health-codegen` names it): prost's
/// encoding with [`BUFFER_SIZE`]-byte buffers.
#[derive(Debug, Clone)]
pub(crate) struct HealthCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for HealthCodec<T, U> {
    fn default() -> Self {
        HealthCodec(PhantomData)
    }
}

impl<T, U> Codec for HealthCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ProstDecoder<U>;

    fn encoder(&mut self) -> ProstEncoder<T> {
        ProstEncoder::new(BufferSettings::new(BUFFER_SIZE, YIELD_THRESHOLD))
    }

    fn decoder(&mut self) -> ProstDecoder<U> {
        ProstDecoder::new(BufferSettings::new(BUFFER_SIZE, YIELD_THRESHOLD))
    }
}
