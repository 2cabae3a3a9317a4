# Run the bot (if I2V_TELEGRAM_TOKEN is set) and one worker per GPU; Ctrl+C stops them gracefully.
$Root = (Resolve-Path "$PSScriptRoot\..\..").Path
# From the checkout, so its .env (I2V_* settings) is read.
Set-Location $Root
$Venv = if ($env:I2V_VENV) { $env:I2V_VENV } else { "$Root\.venv" }
& "$Venv\Scripts\i2v.exe" up @args
exit $LASTEXITCODE
