#!/bin/sh
# Create the secret files that compose.yaml mounts, in ./.secrets/ at the repository root.
#
#   sh deploy/compose/init-secrets.sh                 # run from the repository root
#   OPENAI_API_KEYS='sk-a,sk-b' sh deploy/compose/init-secrets.sh
#
# Existing files are kept (rerunning never rotates a secret by accident); delete one to recreate
# it. The folder ignores itself in git (.secrets/.gitignore) so nothing here is ever committed.
#
# Permissions: the folder is 0700 so other users of this host cannot reach the files; the files
# are 0644 because Compose bind-mounts them unchanged (it ignores uid/mode for file secrets
# outside Swarm) and the containers read them as UID 10001, not as your user.
set -eu

dir=${SECRETS_DIR:-.secrets}
mkdir -p "$dir"
chmod 0700 "$dir"
[ -f "$dir/.gitignore" ] || printf '*\n' > "$dir/.gitignore"

random() {
    # $1 bytes of randomness, URL-safe (no '/', '+' or '=' that would need escaping in a URL).
    od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

write() {
    # write NAME VALUE: create $dir/NAME without a trailing newline unless it exists already.
    if [ -e "$dir/$1" ]; then
        echo "kept    $dir/$1"
    else
        (umask 022 && printf '%s' "$2" > "$dir/$1")
        echo "created $dir/$1"
    fi
    chmod 0644 "$dir/$1"
}

if [ ! -e "$dir/postgres_password" ] || [ ! -e "$dir/database_url" ]; then
    # The password lives in two files that must agree: make both together.
    rm -f "$dir/postgres_password" "$dir/database_url"
    password=$(random 24)
    write postgres_password "$password"
    write database_url "postgresql://ghostpen:${password}@postgres:5432/ghostpen"
else
    write postgres_password ""
    write database_url ""
fi

# 48 random bytes -> 96 hex characters (production needs at least 32).
write jwt_secret "$(random 48)"

# Comma-separated pool of OpenAI keys. Empty is allowed only with GHOSTPEN_ENV=development (the
# offline generator); production refuses to start without a key.
if [ -n "${OPENAI_API_KEYS:-}" ] && [ ! -s "$dir/openai_api_keys" ]; then
    rm -f "$dir/openai_api_keys"   # an empty placeholder from an earlier run: fill it now
fi
write openai_api_keys "${OPENAI_API_KEYS:-}"

if [ ! -s "$dir/openai_api_keys" ]; then
    echo "note: $dir/openai_api_keys is empty; put your key(s) there, comma-separated, or run" \
         "with GHOSTPEN_ENV=development" >&2
fi
