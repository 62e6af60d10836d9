#!/usr/bin/env bash
# Setup: a fresh swtpm of our own on loopback TCP; endorsement keys and attestation keys
# made in it with tpm2-tools: the default RSA and ECC EKs (tpm2_createek), an RSA-3072
# and an ECC P-384 EK with SHA-384 and AES-256 (tpm2_createprimary, policy
# PolicySecret(endorsement)), and an RSA and an ECC AK (tpm2_createak).
# Actions: vigil's TPM2_MakeCredential (build/bin/makecred_tool, common/makecred.c) binds
# a secret to an AK's Name under each EK; tpm2_activatecredential runs it inside the TPM
# with an endorsement policy session.
# Expected: our AK Names equal the TPM's; the TPM hands back exactly our secret for every
# EK/AK pairing; a blob bound to another AK, or with one byte flipped, is refused.
. "$(dirname "$0")/lib.sh"

TOOL=$BIN/makecred_tool
for c in swtpm tpm2_createek tpm2_createak tpm2_createprimary tpm2_activatecredential \
	tpm2_startauthsession tpm2_policysecret tpm2_flushcontext /usr/bin/python3; do
	if ! command -v "$c" >/dev/null; then
		echo "skip makecred: $c is not installed"
		exit 0
	fi
done
[ -x "$TOOL" ] || { echo "not ok makecred_tool is built"; exit 1; }

# Two adjacent free ports (server, control) on loopback.
free_ports() {
	/usr/bin/python3 - <<'EOF'
import random, socket
for _ in range(200):
    p = random.randint(20000, 60000)
    socks = []
    try:
        for q in (p, p + 1):
            s = socket.socket()
            socks.append(s)
            s.bind(("127.0.0.1", q))
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(p)
    break
EOF
}

LOG=$T/tools.log
run() { # run CMD...: a tpm2-tools step, output to the log
	echo "+ $*" >>"$LOG"
	"$@" >>"$LOG" 2>&1
}
flush() { # free the swtpm's three transient slots and its sessions
	tpm2_flushcontext -t >/dev/null 2>&1
	tpm2_flushcontext -s >/dev/null 2>&1
	tpm2_flushcontext -l >/dev/null 2>&1
	return 0
}

started=0
for attempt in 1 2 3; do
	P=$(free_ports)
	[ -n "$P" ] || break
	mkdir -p "$T/x"
	spawn "$T/swtpm.log" swtpm socket --tpm2 --tpmstate dir="$T/x" \
		--server type=tcp,port="$P",bindaddr=127.0.0.1 \
		--ctrl type=tcp,port=$((P + 1)),bindaddr=127.0.0.1 \
		--flags not-need-init,startup-clear
	export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$P"
	for _ in $(seq 50); do
		if tpm2_getcap properties-fixed >/dev/null 2>&1; then
			started=1
			break
		fi
		kill -0 "${SPAWNED[-1]}" 2>/dev/null || break
		sleep 0.1
	done
	[ $started -eq 1 ] && break
	echo "# swtpm did not come up on port $P (attempt $attempt)"
	cat "$T/swtpm.log"
done
if [ $started -ne 1 ]; then
	echo "not ok swtpm starts"
	exit 1
fi
echo "# swtpm on 127.0.0.1:$P"

cd "$T" || exit 1
# Endorsement keys. The custom ones use the plain PolicySecret(endorsement) digest in
# SHA-384, computed with a trial session, so one policy session type activates them all.
flush
run tpm2_createek -G rsa -c ek_rsa.ctx -u ek_rsa.pub && flush &&
	run tpm2_createek -G ecc -c ek_ecc.ctx -u ek_ecc.pub && flush &&
	run tpm2_startauthsession -S trial.ctx -g sha384 &&
	run tpm2_policysecret -S trial.ctx -c e -L pol384 && run tpm2_flushcontext trial.ctx &&
	run tpm2_createprimary -C e -g sha384 -G rsa3072:aes256cfb -L pol384 -c ek_rsa3072.ctx \
		-a 'fixedtpm|fixedparent|sensitivedataorigin|adminwithpolicy|restricted|decrypt' &&
	run tpm2_readpublic -c ek_rsa3072.ctx -o ek_rsa3072.pub && flush &&
	run tpm2_createprimary -C e -g sha384 -G ecc384:aes256cfb -L pol384 -c ek_ecc384.ctx \
		-a 'fixedtpm|fixedparent|sensitivedataorigin|adminwithpolicy|restricted|decrypt' &&
	run tpm2_readpublic -c ek_ecc384.ctx -o ek_ecc384.pub && flush
check "EKs created (RSA-2048, ECC P-256, RSA-3072/SHA-384, ECC P-384/SHA-384)" $?

run tpm2_createak -C ek_rsa.ctx -G rsa -g sha256 -s rsassa -c ak_rsa.ctx -u ak_rsa.pub \
	-n ak_rsa.name && flush &&
	run tpm2_createak -C ek_ecc.ctx -G ecc -g sha256 -s ecdsa -c ak_ecc.ctx -u ak_ecc.pub \
		-n ak_ecc.name && flush
check "AKs created (RSA rsassa, ECC ecdsa)" $?

for ak in ak_rsa ak_ecc; do
	[ "$("$TOOL" --name $ak.pub)" = "$(xxd -p -c 256 $ak.name)" ]
	check "$ak Name computed by vigil equals the TPM's" $?
done

/usr/bin/python3 -c 'import secrets,string;a=string.ascii_letters+string.digits;print("".join(secrets.choice(a) for _ in range(32)),end="")' >secret

# activate EK AK BLOB OUT HASH: TPM2_ActivateCredential under an endorsement policy session.
activate() {
	local rc
	flush
	run tpm2_startauthsession --policy-session -g "$5" -S sess.ctx || return 1
	run tpm2_policysecret -S sess.ctx -c e &&
		run tpm2_activatecredential -c "$2".ctx -C "$1".ctx -i "$3" -o "$4" \
			-P session:sess.ctx
	rc=$?
	run tpm2_flushcontext sess.ctx
	flush
	return $rc
}

for pair in "ek_rsa ak_rsa sha256" "ek_rsa ak_ecc sha256" "ek_ecc ak_ecc sha256" \
	"ek_ecc ak_rsa sha256" "ek_rsa3072 ak_rsa sha384" "ek_ecc384 ak_ecc sha384"; do
	set -- $pair
	rm -f out
	"$TOOL" $1.pub $2.pub secret blob.$1.$2 2>>"$LOG" &&
		activate $1 $2 blob.$1.$2 out $3 && cmp -s out secret
	check "$1 + $2: TPM2_ActivateCredential recovers vigil's credential" $?
done

# The same blob, offered for the other AK: the integrity HMAC covers the Name.
! activate ek_rsa ak_ecc blob.ek_rsa.ak_rsa out sha256
check "ek_rsa: a blob bound to ak_rsa is refused for ak_ecc" $?
! activate ek_ecc ak_rsa blob.ek_ecc.ak_ecc out sha256
check "ek_ecc: a blob bound to ak_ecc is refused for ak_rsa" $?

# One flipped byte in the encrypted identity.
/usr/bin/python3 -c 'import sys;b=bytearray(open(sys.argv[1],"rb").read());b[50]^=1;open(sys.argv[2],"wb").write(b)' blob.ek_rsa.ak_rsa tampered &&
	! activate ek_rsa ak_rsa tampered out sha256
check "ek_rsa: a tampered blob is refused" $?

echo "# tpm2-tools log: $LOG (KEEP_TMP=1 keeps it)"
