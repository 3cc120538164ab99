# bash completion for bpflua: commands, tracer names (from `bpflua list`),
# a tracer's options (from `bpflua run NAME --help`), files elsewhere.
_bpflua()
{
	local cur prev cmd
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	cmd=${COMP_WORDS[1]:-}
	local bpflua=${COMP_WORDS[0]}

	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "run list doctor cache agent -e --verbose --no-cache --help --version" -- "$cur"))
		COMPREPLY+=($(compgen -f -X '!*.lua' -- "$cur"))
		compopt -o filenames 2>/dev/null
		return 0
	fi
	case "$cmd" in
	run)
		if [ "$COMP_CWORD" -eq 2 ]; then
			COMPREPLY=($(compgen -W "$("$bpflua" list 2>/dev/null | awk '{print $1}')" -- "$cur"))
			return 0
		fi
		case "$prev" in
		-o | --output)
			compopt -o filenames 2>/dev/null
			COMPREPLY=($(compgen -f -- "$cur"))
			return 0
			;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$("$bpflua" run "${COMP_WORDS[2]}" --help 2>/dev/null |
				grep -oE -- '(^|[ ,])--?[A-Za-z][A-Za-z0-9-]*' | tr -d ' ,')" -- "$cur"))
		fi
		;;
	cache)
		[ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W "list clear" -- "$cur"))
		;;
	doctor)
		COMPREPLY=($(compgen -W "--json" -- "$cur"))
		;;
	agent)
		case "$prev" in
		--config)
			compopt -o filenames 2>/dev/null
			COMPREPLY=($(compgen -f -- "$cur"))
			;;
		--listen | --otlp) ;;
		*) COMPREPLY=($(compgen -W "--config --listen --otlp --check --help" -- "$cur")) ;;
		esac
		;;
	*)
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
		;;
	esac
	return 0
}
complete -F _bpflua bpflua
