# Run the Telegram bot, restarted if it crashes; Ctrl+C stops it.
$Root = (Resolve-Path "$PSScriptRoot\..\..").Path
# From the checkout, so its .env (I2V_* settings) is read.
Set-Location $Root
$Venv = if ($env:I2V_VENV) { $env:I2V_VENV } else { "$Root\.venv" }
& "$Venv\Scripts\i2v.exe" up --only bot @args
exit $LASTEXITCODE
