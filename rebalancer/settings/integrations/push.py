"""Push notifications: FCM HTTP v1 (firebase-admin) and APNs (HTTP/2). Unset, no push is sent
(devices still register, notifications stay in the app's inbox)."""

from rebalancer.settings.base import env

FCM_CREDENTIALS = env("FCM_CREDENTIALS", default="")  # service-account JSON: a path or the JSON itself
FCM_ENDPOINT = env("FCM_ENDPOINT", default="")  # default https://fcm.googleapis.com; a fake in tests
APNS_KEY = env("APNS_KEY", default="")  # the .p8 signing key: a path or the PEM itself
APNS_KEY_ID = env("APNS_KEY_ID", default="")
APNS_TEAM_ID = env("APNS_TEAM_ID", default="")
APNS_TOPIC = env("APNS_TOPIC", default="")  # the app's bundle id
APNS_ENDPOINT = env("APNS_ENDPOINT", default="https://api.push.apple.com")  # or api.sandbox.push.apple.com
PUSH_TIMEOUT_SECONDS = env.int("PUSH_TIMEOUT_SECONDS", default=10)
PUSH_MAX_ATTEMPTS = env.int("PUSH_MAX_ATTEMPTS", default=6)  # then the delivery is given up
PUSH_RETRY_BASE_SECONDS = env.int("PUSH_RETRY_BASE_SECONDS", default=30)  # doubles per attempt
