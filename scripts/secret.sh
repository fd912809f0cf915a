# Sourced by scripts/gateway.sh and scripts/run.sh: exports TELEGRAPHY_SECRET,
# from the environment when set, else from var/secret, created with a random
# value (32 bytes, hex, mode 600) at first run, so the gateway and the demo
# always agree. $1 prefixes the one line said when the file is created.
telegraphy_secret() {
  mkdir -p var
  if [[ -z ${TELEGRAPHY_SECRET:-} ]]; then
    if [[ ! -s var/secret ]]; then
      (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >var/secret)
      echo "$1: created a random TELEGRAPHY_SECRET in var/secret"
    fi
    TELEGRAPHY_SECRET=$(cat var/secret)
  fi
  export TELEGRAPHY_SECRET
}
