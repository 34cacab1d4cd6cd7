#!/usr/bin/env node
// Production entry: runs the compiled bundle (npm run build). During development use `npm start --`.
import('../dist/cli/main.js');
