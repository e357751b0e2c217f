//! A well-known RSA key pair for the JWT bearer grant in tests and the demo. It is public on
//! purpose: never configure a real connected app with it.

/// The user the default JWT app has pre-authorised.
pub const TEST_JWT_USERNAME: &str = "integration@sf2hs.example";

/// PKCS#8 private key the client signs assertions with in tests.
pub const TEST_JWT_PRIVATE_KEY_PEM: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCsvJUoVEhfyzIN\n\
J/CXatDktnOCmE23SE0sI/czsBYJoNdickjPSoLrtymnHTLBYKgYAjSmJiJuGXiN\n\
CQWLRi1Ua1LML0nGYRRcE6J5rqA+NKFmGuSX1UVfzq9QryrC/hvpNc9CboIiJbNp\n\
bMDv4UyttVBgQVcJ3Hv3EMfjn4syuquXOTvOSUca7yK/OkJ6DVSs4FYqVZXekp84\n\
ueG/AGlspVn4CQz+MgCA6ff3nv7m+hEepdEaoqPZkWN0g4uQddOyZLoZ4T+wsmOH\n\
iG1I9miGtHGDTDZnJvK6SQZFx0P2UEdroMZZIzB6NvFrCGPpTj1L8ByOTpoDMArs\n\
PVnuzCmjAgMBAAECggEAUK/iaK0+BWkwHw8aBlDB9SP4vvcPzl56lfTS4xUMpkC4\n\
e2bw9ctTbnHnhgVQkR3qRxS4rSfBC3bgZdjh+xWz1OwxB+nK51yvmvcc/QQCHCyP\n\
e9dyEi5wMnmkUOcR7XWvafdVsi1WokbEEKnZUfQG0lmQivXah2OzkEwJYx1Cc1YU\n\
ajubX/mxvQmDV6tyRyHICZYrMT1Ox6Gt1voScgf4cWhVldyey2bgBtxaW2BKhySZ\n\
ee5ZK4IY/V4WqQyO9ZtNdr77r/a6Szp8uYOqW8zHQUzPOBfjnAt+loXH3lcWYCgo\n\
gkk6v0IKZkUGZ9DCIXyv0cHb41x5rtDisZiD6cWIAQKBgQDcDGrnSC8MrPQa/kRq\n\
o614MzbafB+nBFo75P/U+Stto3jvRsrD6gdNMLe43T26HwpTA2PxZqbvdMtj8ECs\n\
fONH4B+PdUwoEYi7xHWSfpBWr+hMf1C0WLxHIsBcAnXQ2B/L+vPmJMCIhOnhNZEG\n\
6JKt0fmnOgVk7SYqEFd9zsrNowKBgQDI9VXOKMkBjOciAIIoQ0DRgChvfBCvu6sZ\n\
rGLkjo144HCSJRHs7J14vIddvKxUt1pIlZoBRWu/xWSERQF38NuRDCjl2Gr1xVbU\n\
aL9ZIpiv7B8FRcCWr+L1f8xQamm8lIFgBBL/dZ1FfNYTmvfrevwobA8DconOl+T8\n\
vmbYuBb0AQKBgFXEYUaUVAJUxzBeOrx1338iNxchmhS3FZSSxUR1ef/Z36EjrpR9\n\
+yqS+okLcqvAvX1trN7Ca/6ZP01Mr2iLpOq26JY52d0kOG83O7xFqGyhU6G9Xe9t\n\
RrVTTjaOnu0vz/Tpc3cYjBKp+57UChrvO3yUgwIzEzcrV9y9UdyvZUyRAoGAFO5I\n\
s6JX3Ut5v3biF6N5mtiIXaREcKlRVuk3m6qlXZOy5eXqigzTEgJA7yh5opE+XBUI\n\
51z9rgm3QHeXgZCare7gS6BQ86xMMO+ADp6l3JzxVjE/r/I952gaNb3/qV6mYwPJ\n\
nsX3TYeFHKGldOdoYCVxIuDJLbVwakrCl4wFCAECgYEAosHeutE/J7pW7opGQGw7\n\
+J7bhXTgp/r/IlYcBi56SQ7wb2YF/s8F1Zd0pkIm7BwtsxUWajpW3Vq/HalpqqNG\n\
ryNPdY/r1T8XjxdEbGW+nmDjCGAf/tleu4ljMnq9hg6Ql3CcyOQ1TOsLLiQ1A7yo\n\
5gwSdvjLY84PVm/+O89qs0Q=\n\
-----END PRIVATE KEY-----\n\
";

/// The certificate's public key the sandbox's default JWT app verifies with.
pub const TEST_JWT_PUBLIC_KEY_PEM: &str = "\
-----BEGIN PUBLIC KEY-----\n\
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEArLyVKFRIX8syDSfwl2rQ\n\
5LZzgphNt0hNLCP3M7AWCaDXYnJIz0qC67cppx0ywWCoGAI0piYibhl4jQkFi0Yt\n\
VGtSzC9JxmEUXBOiea6gPjShZhrkl9VFX86vUK8qwv4b6TXPQm6CIiWzaWzA7+FM\n\
rbVQYEFXCdx79xDH45+LMrqrlzk7zklHGu8ivzpCeg1UrOBWKlWV3pKfOLnhvwBp\n\
bKVZ+AkM/jIAgOn3957+5voRHqXRGqKj2ZFjdIOLkHXTsmS6GeE/sLJjh4htSPZo\n\
hrRxg0w2ZybyukkGRcdD9lBHa6DGWSMwejbxawhj6U49S/Acjk6aAzAK7D1Z7swp\n\
owIDAQAB\n\
-----END PUBLIC KEY-----\n\
";

/// A different key, for proving that a wrongly signed assertion is refused.
pub const OTHER_RSA_PRIVATE_KEY_PEM: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCqWuAVFi4bBbNt\n\
RwJ6rpPFEfXeIuKvSXKKXb8gT271RW4lbF2FugOk/iTU2Sdo15MyoJhplED9gTJa\n\
huil5yKqKdAlTzXDXVZgQKs0KBfEoO+xGqLwqAQVaju05URj8K4cHdd6Wfem186x\n\
QkQWNwelgxV4pb8KBc1VtgUcG+9GJkQVv3QJmkHzyiYSzhlEIZQ7EqndR4T0e93k\n\
z2rzQrzQjS3GE2I4pJW/M2cfvvC8kMK044SNBglRe3gFXH0eBlb68P8d/FgA7b5t\n\
r+Mfz3c0WTLe20J3AiSnXaUT0uuwAAgIr1AVOHeDiaWj72njTyQ1t30eoJn4UCS1\n\
cw5lWSI9AgMBAAECggEAF+Vhc3PGCeJV1elVDrJ4Zfdr/rn0BFSQLZqS2cxqqxsP\n\
JU67G6wJINbJgdXoMkuzCTH/zyeNqkG6N3qfHc57TVVKLkGbMAliuWO44DsTgnB0\n\
zuoGmy1mTT62m1xhqIc1VRpWhIIkPBIfmzvJYzha6TunAmJ1lslTkUdUFipQ+Qzg\n\
UGZ24YWyi9PiYl5HiAXiyN2TgDs3Krk8/ONZd2IxeHRnjUyg8GWaRfGp19yhBOJt\n\
4qASwz2j4VZ5x5v8jDBqnhs087GES1WJ16Go9ii1CRmldQnL6LcvYLAF+PWuw82z\n\
aRLWGhSyPK6XkNvhgd2TD5lTTCFDAm3ucKyKj3FPgQKBgQDiFXvGfqOuUFKEx0+/\n\
q6+zdn5NgNPzEUEuyNTgEO4wISHVomQ1mGe/aG11Iqx411Hfd0CbEj4656N8/w2P\n\
x5y8QY5Uas1VR4EHLUWmE+e8IkeHnn86rhjOS8fFbA4oy9EJ+RRJVQuVUjtlz3T8\n\
WsuSr53Tgs3xPUVc2QjovFCMIQKBgQDA5ZfE0tImi9Afb57vIH64kDdzuvkWItI1\n\
hkpJiLMKF2Btj+vuMQ5lrndPfC6KrZglA7cXKxIEE2VUft2ctvzk3e0JzRitbqjO\n\
KkpPGLljMKBXxiiZE9+r9r1CWLhD+k8mav5TKnlX5HrTb5M6xlUmKvICynOVqfIO\n\
U1nSc/zynQKBgBFqBjar2n+6wCBqGcJxvv7bya6+lZTLZ3HrFjqME0yxwKFr+LwI\n\
GTWtHYFAQnisXSoRTXCkXxa6cOVX3/uLLI9znTrzXw2KjG25FvxL3DWpjkjr9HDY\n\
qCB7xc93G0AZMujJvr5HRrUhuGGHMUOe2r9Zt5ZrJOHIDmewb/c9ShcBAoGAPEF7\n\
/0e7zb6u7KL5iskjzJOAPu6REJEgCQhB/GZvRx+2R4NFt8orLSgqrPGluDwx4p4e\n\
e2ZA4nUMmjBnGaUvqm6ItR8ULlj68ivTupGGl62A6OpFlEvY+ubAiBEevl1ajC2v\n\
9Fq4PPRqSdH4s8twndOcdbK4GHBV5JO040DIKyECgYEAo6BqBdG3kk0mAQvOh+58\n\
Kd8V4rCmy7TclBbWExLlVIuE0IHiwHyYQgrxTYukpnMUyVNWQddyxEcYm01oKRN7\n\
hsXycoij61Hi81l8x4FwQQpVtq+Me+UShGZiF1lrclEfk/drxgysTsfjMaTV1OKR\n\
iH4wdat3LQYa+OjtFMTBvZI=\n\
-----END PRIVATE KEY-----\n\
";
